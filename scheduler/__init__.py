"""The clock: plans and dispatches on ticks; the database holds all state."""
