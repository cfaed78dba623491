"""The HTML `frontline serve` sends: the sign-in forms, the messages, and the page that runs the app.

The terminal page is textual-serve's own (xterm.js and its textual.js, served from its package) without the
web font it loads from the internet, and with the websocket address taken from the address bar, so the page
works the same behind a reverse proxy as on 127.0.0.1.
"""

from __future__ import annotations

from html import escape

_STYLE = """
body { background: #0c181f; color: rgba(255,255,255,0.92); font-family: menlo, "DejaVu Sans Mono", monospace;
       margin: 0; }
main { max-width: 36em; margin: 12vh auto; background: #12232d; padding: 2em 2.5em; }
h1 { font-size: 1.4em; margin-top: 0; }
label { display: block; margin: 1em 0 0.4em; }
input { font: inherit; padding: 0.5em; width: 100%; box-sizing: border-box; }
button { font: inherit; margin-top: 1.2em; padding: 0.6em 1.6em; background: #5e0ba7; color: white; border: none;
         cursor: pointer; }
.problem { color: #ff8f8f; }
a { color: #9fd3ff; }
"""


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{_STYLE}</style></head>"
            f"<body><main>{body}</main></body></html>")


def name_form(problem: str = "", name: str = "") -> str:
    warning = f"<p class='problem' role='alert'>{escape(problem)}</p>" if problem else ""
    return _page("Frontline — who is practising?", f"""
<h1>Frontline — customer-service practice</h1>
<p>Your sessions are saved under your name, so you and your trainer can follow your progress.</p>
{warning}
<form method="post" action="/">
  <label for="trainee">Your name</label>
  <input id="trainee" name="trainee" value="{escape(name)}" maxlength="100" autofocus required>
  <button type="submit">Start practising</button>
</form>""")


def message(title: str, text: str, *, link: tuple[str, str] | None = None) -> str:
    after = f"<p><a href='{escape(link[0])}'>{escape(link[1])}</a></p>" if link else ""
    return _page(title, f"<h1>{escape(title)}</h1><p>{escape(text)}</p>{after}")


def review_form(problem: str = "") -> str:
    warning = f"<p class='problem' role='alert'>{escape(problem)}</p>" if problem else ""
    return _page("Frontline — trainer's review", f"""
<h1>Trainer's review</h1>
{warning}
<form method="post" action="/review">
  <label for="reviewer">Your name (signs your overrides)</label>
  <input id="reviewer" name="reviewer" maxlength="100" required>
  <label for="secret">Review secret</label>
  <input id="secret" name="secret" type="password" required>
  <button type="submit">Open the review</button>
</form>""")


def terminal(title: str, websocket_path: str, *, font_size: int = 16, signed_in_as: str = "",
             sign_out: str = "") -> str:
    """The page that runs one app: textual-serve's client connected to `websocket_path` on this host."""
    who = ""
    if signed_in_as:
        change = f" · <a href='{escape(sign_out)}'>not you?</a>" if sign_out else ""
        who = f"<div class='who'>{escape(signed_in_as)}{change}</div>"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)}</title>
<link rel="stylesheet" href="/static/css/xterm.css">
<script src="/static/js/textual.js"></script>
<style>
body {{ background: #0c181f; margin: 0; overflow: hidden; }}
.who {{ position: fixed; right: 0.6em; bottom: 0.2em; z-index: 30; font: 12px menlo, monospace;
        color: rgba(255,255,255,0.55); }}
.who a {{ color: rgba(159,211,255,0.8); }}
.dialog-container {{ position: absolute; width: 100vw; height: 100vh; display: flex; align-items: center;
                     justify-content: center; z-index: 10; }}
.shade {{ position: absolute; width: 100%; height: 100%; background: #0c181f; }}
.intro {{ width: 640px; min-height: 160px; font: 16px menlo, monospace; text-align: center; z-index: 20;
          color: rgba(255,255,255,0.95); background-color: #12232d; display: flex; flex-direction: column;
          align-items: center; justify-content: center; margin: 32px; }}
body.-first-byte .intro-dialog, body.-first-byte .intro-dialog .shade {{ display: none; }}
body .textual-terminal {{ opacity: 0; transition: opacity 0.3s ease-out; }}
body.-first-byte .textual-terminal {{ opacity: 1; }}
body button {{ padding: 12px 28px; background-color: #5e0ba7; color: white; border: none; font: inherit;
               margin: 16px; cursor: pointer; }}
.closed-dialog {{ display: none; }}
body.-closed .closed-dialog {{ display: flex; }}
#start {{ display: none; }}
</style>
<script>
function refresh() {{ window.location.href = window.location.pathname; }}
</script>
</head>
<body>
<div class="dialog-container intro-dialog"><div class="shade"></div>
  <div class="intro"><div>Starting {escape(title)}…</div></div></div>
<div class="dialog-container closed-dialog"><div class="shade"></div>
  <div class="intro"><div class="message">Session ended. Your completed replies are saved.</div>
  <button type="button" onclick="refresh()">Start again</button></div></div>
<div id="terminal" class="textual-terminal" data-font-size="{int(font_size)}"></div>
{who}
<script>
document.getElementById("terminal").dataset.sessionWebsocketUrl =
  (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "{escape(websocket_path)}";
</script>
</body>
</html>
"""
