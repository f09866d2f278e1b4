"""The simulated phone system behind an emulator of Twilio's documented Voice interfaces
(`shopper sandbox twilio --number +1555...=IVR.yaml --listen 127.0.0.1:PORT`).

The official `twilio` client, pointed at it (`client.api.base_url`), places calls to sandbox
IVRs; the emulator rings them, runs the TwiML, opens Media Streams WebSockets and posts signed
status callbacks as Twilio documents them. The modules split the job: `signature` checks
credentials and signs requests, `twiml` reads TwiML, `rest` is the Calls resource,
`callbacks` posts status callbacks, `stream` is one Media Streams WebSocket, `call` is one
call's life and `server` holds the numbers and the HTTP server and writes each call's truth.
"""
