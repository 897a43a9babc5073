import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's Chromium, headless, quiet on the network (tests talk to loopback only). `extraArgs` adds switches, such
 * as `--host-resolver-rules=MAP gatehouse.test 127.0.0.1` to give a Gatehouse a public-looking host name.
 */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  });
}
