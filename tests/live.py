"""Live-stack fixtures: placeholder, filled in by the live-stack work."""
