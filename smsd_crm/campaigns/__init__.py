"""Campaigns: promotions to many customers, greetings, win-back messages.

``storage/campaigns.py`` keeps campaigns and their recipients; ``audience.py`` resolves who a
campaign is for; ``preview.py`` sizes and prices a text; ``runner.py`` feeds the outbox at the
pool's pace (after replies, outside quiet hours, consent and the weekly cap checked per message);
``greetings.py`` schedules birthday and holiday greetings once per customer and occasion.
"""
