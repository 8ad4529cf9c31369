"""Building blocks every layer shares: registries, issues, execution context, physical naming."""
