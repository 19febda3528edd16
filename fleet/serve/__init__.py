"""``fleet serve``: scheduled health checks in one process — schedules (``fleet.schedule``),
every fire an ordinary journaled run through ``fleet.api``, regressions and alerts per run
(``fleet.history``), and a read-only web app over it all.

    view     ServiceView (what the web app reads) and its records
    app      create_app(service) -> Starlette; routes()

A caller of ``fleet.api`` beside the CLI; nothing imports it but the CLI.
"""
