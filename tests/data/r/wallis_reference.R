# Reference fits for the analysis tests (R is an oracle here, never a runtime dependency).
#
# Run from the repository root, with the Wallis et al. (2017) data next to the repository:
#   Rscript tests/data/r/wallis_reference.R ../shared/datasets/wallis2017_oddity tests/data/r
# Needs Debian's r-base-core, r-cran-lme4, r-cran-psyphy. Writes, per fit, <name>.csv with rows
#   kind (fixed | sd | cor | deviance | info), group, term, estimate, se, se_conditional
# where se is glmer's default (vcov: the Hessian of the Laplace deviance over theta and beta) and
# se_conditional the one that treats theta as known (vcov(use.hessian = FALSE)).
# Factor levels are ordered as in the C locale (PS before conv1), as Python's sort orders them.

suppressPackageStartupMessages({
  library(lme4)
  library(psyphy)
})
args <- commandArgs(trailingOnly = TRUE)
data_dir <- if (length(args) >= 1) args[1] else "../shared/datasets/wallis2017_oddity"
out_dir <- if (length(args) >= 2) args[2] else "tests/data/r"

read_wallis <- function(file) {
  d <- read.csv(file.path(data_dir, file), stringsAsFactors = FALSE)
  d$model <- factor(d$model, levels = sort(unique(d$model), method = "radix"))
  d$presentation <- factor(d$presentation, levels = sort(unique(d$presentation), method = "radix"))
  d$subject <- factor(d$subject)
  d$image <- factor(d$image)
  d
}

tidy_merMod <- function(fit, seconds) {
  fe <- fixef(fit)
  se <- sqrt(diag(as.matrix(vcov(fit))))
  se_c <- sqrt(diag(as.matrix(vcov(fit, use.hessian = FALSE))))
  rows <- data.frame(kind = "fixed", group = "", term = names(fe), estimate = unname(fe),
                     se = unname(se), se_conditional = unname(se_c), stringsAsFactors = FALSE)
  vc <- as.data.frame(VarCorr(fit))
  for (i in seq_len(nrow(vc))) {
    if (is.na(vc$var2[i])) {
      rows <- rbind(rows, data.frame(kind = "sd", group = vc$grp[i], term = vc$var1[i],
                                     estimate = vc$sdcor[i], se = NA, se_conditional = NA))
    } else {
      rows <- rbind(rows, data.frame(kind = "cor", group = vc$grp[i],
                                     term = paste(vc$var1[i], vc$var2[i], sep = ":"),
                                     estimate = vc$sdcor[i], se = NA, se_conditional = NA))
    }
  }
  msgs <- paste(c(fit@optinfo$conv$lme4$messages, fit@optinfo$message), collapse = " | ")
  rows <- rbind(rows,
    data.frame(kind = "deviance", group = "", term = "minus2loglik", estimate = -2 * as.numeric(logLik(fit)),
               se = NA, se_conditional = NA),
    data.frame(kind = "info", group = "", term = "seconds", estimate = seconds, se = NA, se_conditional = NA),
    data.frame(kind = "info", group = "", term = "singular", estimate = as.numeric(isSingular(fit)),
               se = NA, se_conditional = NA),
    data.frame(kind = "info", group = "", term = paste("messages:", msgs), estimate = NA, se = NA,
               se_conditional = NA))
  rows
}

tidy_glm <- function(fit, seconds) {
  s <- summary(fit)$coefficients
  rows <- data.frame(kind = "fixed", group = "", term = rownames(s), estimate = s[, 1], se = s[, 2],
                     se_conditional = NA, stringsAsFactors = FALSE)
  rbind(rows,
    data.frame(kind = "deviance", group = "", term = "minus2loglik", estimate = -2 * as.numeric(logLik(fit)),
               se = NA, se_conditional = NA),
    data.frame(kind = "info", group = "", term = "seconds", estimate = seconds, se = NA, se_conditional = NA))
}

save_fit <- function(rows, name) {
  write.csv(rows, file.path(out_dir, paste0(name, ".csv")), row.names = FALSE)
  cat(name, "written\n")
}

ctrl <- glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5))
fits <- list(
  intercepts = correct ~ model * presentation + (1 | subject) + (1 | image),
  slopes = correct ~ model * presentation + (1 + presentation | subject) + (1 + presentation | image)
)
for (expt in c("11", "12")) {
  d <- read_wallis(paste0("experiment", expt, "_trials.csv"))
  for (nm in names(fits)) {
    t0 <- proc.time()[["elapsed"]]
    fit <- glmer(fits[[nm]], data = d, family = binomial, control = ctrl)
    save_fit(tidy_merMod(fit, proc.time()[["elapsed"]] - t0), paste0("glmer_e", expt, "_", nm))
  }
  # the oddity guess-rate link: pc = 1/3 + 2/3 * logistic(eta)
  for (nm in c("additive", "factorial")) {
    f <- if (nm == "additive") correct ~ model + presentation else correct ~ model * presentation
    t0 <- proc.time()[["elapsed"]]
    # start at pc = 2/3 everywhere: R's default start (mustart = (y + 0.5) / 2) lies at or below the
    # guess rate for incorrect trials, and Fisher scoring then diverges
    fit <- glm(f, data = d, family = binomial(mafc.logit(3)), start = rep(0, ncol(model.matrix(f, d))),
               control = glm.control(epsilon = 1e-12, maxit = 200))
    stopifnot(fit$converged)
    save_fit(tidy_glm(fit, proc.time()[["elapsed"]] - t0), paste0("glm_mafc_e", expt, "_", nm))
  }
  t0 <- proc.time()[["elapsed"]]
  fit <- glmer(correct ~ model + presentation + (1 | subject) + (1 | image), data = d,
               family = binomial(mafc.logit(3)), control = ctrl)
  save_fit(tidy_merMod(fit, proc.time()[["elapsed"]] - t0), paste0("glmer_mafc_e", expt, "_intercepts"))
}
versions <- data.frame(package = c("R", "lme4", "psyphy"),
                       version = c(R.version.string, as.character(packageVersion("lme4")),
                                   as.character(packageVersion("psyphy"))))
write.csv(versions, file.path(out_dir, "versions.csv"), row.names = FALSE)
