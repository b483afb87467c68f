"""Icons (SVG) and style sheets of the fetchq app, installed as package data."""
