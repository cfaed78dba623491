"""Frontline for a team: the trainee app in a browser (`frontline serve`), one scoring service for every session.

Above the apps in the layering: it runs them as separate processes (`frontline serve-app`), never imports them.
"""
