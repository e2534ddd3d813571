"""Delivery of what rendering made: the pre-read by email (``email``), the summary to chat channels
(``chat``: Slack or Mattermost, Microsoft Teams, a JSON webhook; ``digest`` and ``chat_formats``)."""
