"""Reports for federations: how well the 24-hour reply promise is kept."""
