"""The dashboard's server, with the invitation pages on it: `streamlit run serve.py` (what
`make run` does) serves app.py and /invite/<token> on one port, so one process shows the whole
flow. Serve the invitation pages alone with `python -m commbox_core redeem`."""

import streamlit as st

import ui.backend
from commbox_core.invitations.app import RedeemEndpoints, redeem_routes

ui.backend.serves_invitations = True
app = st.App("app.py", routes=redeem_routes(RedeemEndpoints(ui.backend.redeemer)))

if __name__ == "__main__":
    app.run()
