"""The simulated phone system served over SIP/RTP (`shopper sandbox serve IVR.yaml --sip ...`).

Each INVITE gets a fresh `SandboxPhone` running in real time; aiosipua carries the signalling
and aiortp the media. The modules split the job: `address` reads `--sip HOST:PORT`, `pacing`
is the 20 ms media clock, `inbound` buffers the caller's audio, `keys` turns RFC 4733 key
events back into tones the IVR hears, `media` is one call's RTP, `call` is one call's life
and `server` answers INVITEs and writes each call's truth.
"""
