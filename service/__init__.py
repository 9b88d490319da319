"""The application core: configuration, the database handle and the domain rules. No HTTP and no scheduler here:
the app is built by the composition root (`factory`)."""
