"""The review page: a small web app where privacy staff read cases and act on them."""
