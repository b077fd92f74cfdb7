"""The domain: value objects, exceptions, vocabularies, countries and the in-memory dataset."""
