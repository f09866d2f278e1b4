"""The simulated phone system served over SIP/RTP (`shopper sandbox serve IVR.yaml --sip ...`).

Each INVITE gets a fresh `SandboxPhone` running in real time; aiosipua carries the signalling
and the SIP carrier's own RTP stream (shopper.carriers.sip.media) the media. The modules split
the job: `address` reads `--sip HOST:PORT`, `keys` turns RFC 4733 key events back into tones
the IVR hears, `media` is one call's RTP (and its media clock), `call` is one call's life and
`server` answers INVITEs and writes each call's truth.
"""
