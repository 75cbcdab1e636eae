"""``labridge contract show``: the wire contract as labridge speaks it."""

from __future__ import annotations

from .. import console
from ..options import ConfigOpt, ContractOpt, JsonOpt, settings_from
from ..shell import handles_errors


@handles_errors
def contract_show(
    config: ConfigOpt = None,
    contract_file: ContractOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the effective contract: every service path, namespace, operation, parameter, type
    and member name labridge puts on the wire, each marked DOC (in LA's published samples), INF
    (inferred) or overridden (by [contract] or --contract)."""
    from ... import contract, overrides

    settings_from(config, contract_file=contract_file)
    items = overrides.items(contract.active())
    if as_json:
        console.print_json([item.as_dict() for item in items])
        return
    console.out.print(console.contract_table(items))
