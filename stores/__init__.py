"""socscreen.stores."""
