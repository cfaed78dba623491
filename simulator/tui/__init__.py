"""The trainee's terminal app (Textual): scenario picker, play screen, debrief.

Importing this package imports neither textual nor torch; `simulator.tui.trainee.app.make_app` builds the app and
`simulator.tui.launch` runs it for the command line.
"""
