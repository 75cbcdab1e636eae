"""One module per command group. Each defines its commands as plain functions; :func:`register`
puts them on :mod:`labridge.cli.app` in the order ``labridge --help`` lists them, so that this
is the one place that says which commands there are and what they are called."""

from __future__ import annotations


def register() -> None:
    from ..app import (
        app,
        contract_app,
        fleet_app,
        progress_app,
        sandbox_app,
        store_app,
        tenants_app,
    )
    from . import (
        contract,
        demo,
        enrolment,
        fleet,
        forget,
        progress,
        run,
        sandbox,
        setup,
        store,
        sync,
    )

    app.command()(setup.init)
    app.command("sync")(sync.sync_command)
    app.command()(setup.status)
    app.command()(enrolment.enrol)
    app.command()(enrolment.update)
    app.command()(enrolment.enrolments)
    app.command()(enrolment.duplicates)
    app.command()(forget.forget)
    app.command("run")(run.run_command)
    app.command("doctor")(setup.doctor_command)
    app.command()(demo.demo)
    sandbox_app.command("serve")(sandbox.sandbox_serve)
    progress_app.command("pull")(progress.progress_pull)
    progress_app.command("report")(progress.progress_report)
    contract_app.command("show")(contract.contract_show)
    store_app.command("backup")(store.store_backup)
    tenants_app.command("list")(fleet.tenants_list)
    tenants_app.command("check")(fleet.tenants_check)
    app.command("worker")(fleet.worker)
    app.command("schedule")(fleet.schedule_command)
    fleet_app.command("status")(fleet.fleet_status)
    fleet_app.command("report")(fleet.fleet_report)
