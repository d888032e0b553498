"""Diagnostics and the customer's phone: ``smsd-crm sim send`` and ``smsd-crm pdu decode|encode``."""

from __future__ import annotations

import argparse
import asyncio
import sys

from ..config import load_config


def cmd_sim_send(args: argparse.Namespace) -> int:
    """Play a customer: send an SMS to the running daemon's emulated modem, print the reply."""
    from ..emulator.control import request

    settings = load_config(args.config, secrets=False)
    sock = settings.emulator.control_socket
    if not sock.exists():
        print(f"error: no running daemon with emulated modems ({sock} does not exist); "
              "start one with 'make demo'", file=sys.stderr)
        return 1
    payload = {"op": "send", "from": args.number, "text": args.text, "timeout": args.timeout}
    if args.modem:
        payload["modem"] = args.modem
    try:
        answer = asyncio.run(request(sock, payload, args.timeout + 5))
    except (OSError, TimeoutError) as exc:
        print(f"error: cannot reach the daemon at {sock}: {exc}", file=sys.stderr)
        return 1
    if not answer.get("ok"):
        print(f"error: {answer.get('error')}", file=sys.stderr)
        return 1
    print(answer["reply"] if answer["reply"] is not None else "(sent; not waiting for a reply)")
    return 0


def cmd_pdu_decode(args: argparse.Namespace) -> int:
    """Print every field of a PDU (as +CMGR/+CMGL list it) as JSON."""
    import json

    from ..errors import PduError
    from ..sms.pdu import decode
    from ..sms.pdu_info import describe

    try:
        decoded = decode(args.hex, with_smsc=not args.no_smsc)
    except PduError as exc:
        print(f"error: cannot decode: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(describe(decoded), indent=2, ensure_ascii=False))
    return 0


def cmd_pdu_encode(args: argparse.Namespace) -> int:
    """Print the SMS-SUBMIT PDUs for a text, with their AT+CMGS lengths, as JSON."""
    import json

    from ..errors import PduError
    from ..phones import normalize
    from ..sms.pdu_info import encode_for_operator

    number = normalize(args.to) or args.to  # what the daemon would send: E.164 where possible
    try:
        info = encode_for_operator(number, args.text, args.srr)
    except PduError as exc:
        print(f"error: cannot encode: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(info, indent=2, ensure_ascii=False))
    return 0


def add_parsers(sub, default_config: str) -> None:
    """Add ``sim`` and ``pdu`` to the CLI."""
    sim = sub.add_parser("sim", help="act as a customer's phone against a running daemon",
                         description="Talk to a running daemon's emulated modem as a customer would.")
    sim_sub = sim.add_subparsers(dest="sim_command", required=True, metavar="SIMCOMMAND")
    send = sim_sub.add_parser("send", help="send an SMS and print the reply",
                              description=cmd_sim_send.__doc__)
    send.add_argument("number", help="the customer's number, e.g. +6281234567890 or 081234567890")
    send.add_argument("text", help='the SMS text, e.g. "DAFTAR Budi#Jl. Mawar 5"')
    send.add_argument("-c", "--config", default=default_config, help="config of the running daemon")
    send.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the reply")
    send.add_argument("--modem", help="id of the emulated modem to receive it (default: the first)")
    send.set_defaults(func=cmd_sim_send, verbose=False)
    pdu = sub.add_parser("pdu", help="decode or encode SMS PDUs (diagnostics)",
                         description="Decode or encode SMS PDUs, as gammu decodepdu does.")
    pdu_sub = pdu.add_subparsers(dest="pdu_command", required=True, metavar="PDUCOMMAND")
    dec = pdu_sub.add_parser("decode", help="print every field of a PDU as JSON",
                             description=cmd_pdu_decode.__doc__)
    dec.add_argument("hex", help="the PDU in hex, starting with the SMSC field")
    dec.add_argument("--no-smsc", action="store_true", help="the PDU has no SMSC field (starts at the TPDU)")
    dec.set_defaults(func=cmd_pdu_decode, verbose=False)
    enc = pdu_sub.add_parser("encode", help="print the PDUs and AT+CMGS lengths for a text",
                             description=cmd_pdu_encode.__doc__)
    enc.add_argument("--to", required=True, help="the recipient, e.g. +6281234567890")
    enc.add_argument("--text", required=True, help="the message text")
    enc.add_argument("--srr", action="store_true", help="ask for a delivery report (TP-SRR)")
    enc.set_defaults(func=cmd_pdu_encode, verbose=False)
