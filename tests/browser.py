"""Headless Chromium (Debian's chromium + chromium-driver) driven by Selenium, for the viewer's page."""

import os
import shutil

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def chromium():
    """A headless Chromium WebDriver. Skipped where the browser is not installed, except under CI (which installs
    it: see README, 'Tests'), where its absence fails."""
    missing = next((p for p in (CHROMIUM, DRIVER) if not shutil.which(p)), None)
    if missing:
        message = f"{missing} is not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,720"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(DRIVER), options=options)
