"""The bundled example data: a seeded generator of realistic agencies' returns."""
