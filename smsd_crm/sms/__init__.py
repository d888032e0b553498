"""The SMS wire format, pure: GSM 03.38 alphabet, TPDUs (3GPP TS 23.040), parts and reassembly,
and reply text that fits one SMS. No I/O, no event loop."""
