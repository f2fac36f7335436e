"""The Faust side of Sway: topics and tables, the three stages, the sweep, the HTTP views."""
