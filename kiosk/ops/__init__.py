"""Running a fleet of kiosks from afar: what IT needs besides the kiosk itself.

* ``watchdog``: sd_notify (READY, WATCHDOG, STATUS, STOPPING) so systemd restarts a frozen loop;
* ``logging``: one journald line per event, ``key=value``, patron ids masked, secrets scrubbed;
* ``doctor``: ``kiosk doctor``, one screen of checks with a fix hint each, and an exit code;
* ``metrics`` and ``server``: a Prometheus endpoint and ``/healthz`` on one small HTTP server;
* ``alerts``: bin full, out of service, paper out, offline too long, exceptions waiting, sent to a
  chat webhook and/or by e-mail, rate-limited, from a background thread;
* ``central_config``: ``kiosk config pull``, the branch's config bundle over HTTPS, verified;
* ``config_reference``: docs/config-reference.md generated from the settings model;
* ``wiring``: one call that attaches metrics, the server and alerts to a running station.

The sections these read (``[logging]``, ``[metrics]``, ``[alerts]``, ``[central_config]``,
``[doctor]``) are declared in ``settings``, which imports nothing heavier than the config schema,
so ``kiosk config check`` never loads prometheus-client or requests.
"""
