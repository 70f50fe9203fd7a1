"""Probes beyond metamers: physical eigendistortions and MAD competition in scene space."""
