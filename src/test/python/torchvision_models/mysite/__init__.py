"""A user's own package: model classes that live neither in torch nor in __main__."""
