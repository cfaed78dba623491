"""The app's screens: picker, play, debrief, help (and the quit confirmation in widgets.confirm)."""
