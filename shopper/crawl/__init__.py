"""Crawling a phone system: explore its menus from audio alone and map them."""
