"""C code generation: identifiers, literals, arrays and the Jinja environment."""
