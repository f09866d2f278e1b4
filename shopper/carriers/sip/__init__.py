"""The SIP carrier (`carrier: sip`): real calls to a PBX, an SBC or a SIP trunk over SIP/RTP.

One module per concept: `target` (what a script's target means), `settings` (the `[sip]`
config table and its environment variables), `signalling` (the INVITE dialog, through
aiosipua), `stream` (SIP over TCP under aiosipua's transport interface), `registration`
(REGISTER before a call, when the PBX wants it), `keys` (how keys are sent: RFC 4733,
in-band or SIP INFO), `rtp` (packets and RFC 4733 events), `jitter` (the receive buffer that
puts packets back on media time), `rtpstats` (RFC 3550 figures), `media` (paced sending and
receiving of one RTP stream, reusable by a SIP server), `trace` (`--sip-trace`), `bye`
(hanging up from another process) and `call` (the `Call` the engine holds, and the dialler
registered as `sip`). Nothing outside `signalling`, `registration`, `stream` and `bye` knows
which SIP library is used, so it can be swapped.
"""
