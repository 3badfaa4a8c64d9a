"""Channels: one narrow protocol, and SMTP, webhook presets (Telegram, SMS, push), export and
GetCourse groups behind it."""
