"""socscreen.makers."""
