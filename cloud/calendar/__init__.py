"""Opening days and hours per site, from rules kept as data (`sites/*.yaml`)."""
