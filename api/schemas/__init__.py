"""marshmallow schemas of the HTTP contract, instantiated once per use by the blueprints."""
