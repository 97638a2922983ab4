"""The viewer in a real browser: the page loads, a slider moves, both images change."""

import threading

from browser import chromium
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from neurender.inference import load_renderer
from neurender.viewer.server import serve


def test_moving_a_slider_changes_both_images(tiny_renderer):
    server = serve(load_renderer(tiny_renderer), 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    browser = chromium()
    try:
        browser.get(f"http://127.0.0.1:{server.server_address[1]}/")
        wait = WebDriverWait(browser, 60)

        def renders() -> int:
            return int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-renders") or 0)

        wait.until(lambda _: renders() >= 1)
        before = {k: browser.find_element(By.ID, k).get_attribute("src") for k in ("neural", "analytic")}
        count = renders()
        slider = browser.find_element(By.ID, "s_r")  # the diffuse red: to whichever end lies further
        far_end = "min" if float(slider.get_attribute("value")) > 0.5 else "max"
        slider.send_keys(Keys.HOME if far_end == "min" else Keys.END)
        wait.until(lambda _: renders() > count and slider.get_attribute("value") == slider.get_attribute(far_end))
        wait.until(lambda _: all(browser.find_element(By.ID, k).get_attribute("src") != before[k] for k in before))
        assert browser.find_element(By.ID, "error").text == ""
        assert 0 < float(browser.find_element(By.ID, "m_ssim").text) <= 1
    finally:
        browser.quit()
        server.shutdown()
        server.server_close()
