"""Built-in filters: one module each, registered through the same pluggy hook a
third-party filter uses (see `omamori.registry`)."""
