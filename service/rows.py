"""Rows as the API renders them: an ORM row with the few values computed beside it (labels, flags, counts), so
each response's fields are listed once, in its marshmallow schema."""


class Row:
    """Every attribute that is not the wrapper's own is the row's."""

    row: object

    def __getattr__(self, name):
        if name == "row":  # not set yet (e.g. while copying): no recursion
            raise AttributeError(name)
        return getattr(self.row, name)
