"""Figures for the dashboards (`stats`, drawn by `charts`) and the list's CSV (`export`)."""
