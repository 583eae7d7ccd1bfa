"""Publishing: open data with its data package, and the ministers' summary."""
