import { pino, type DestinationStream, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';

/** Log fields that must never reach a log line, whatever a caller passes. */
export const redactedLogPaths = [
  'password',
  '*.password',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'code',
  '*.code',
  'req.headers.authorization',
  'req.headers.cookie',
];

/** What the configuration may ask for (config key `logFormat`, env `LOG_FORMAT`). */
export type LogFormatSetting = 'auto' | 'json' | 'pretty';
export type LogFormat = 'json' | 'pretty';

/**
 * `json` and `pretty` are obeyed as given. `auto` (the default) is pretty, coloured lines only for a person
 * watching a terminal on a development machine; in production, or when stdout is a pipe or a file (a container's
 * log driver, systemd, a test harness), one JSON object a line, which is what log collectors parse.
 */
export function chooseLogFormat(input: {
  setting: LogFormatSetting;
  production: boolean;
  stdoutIsTty: boolean;
}): LogFormat {
  if (input.setting !== 'auto') return input.setting;
  return !input.production && input.stdoutIsTty ? 'pretty' : 'json';
}

export interface ServerLog {
  log: Logger;
  /** Writes what is still buffered (call on exit). */
  flush(): void;
}

/**
 * The server's logger on stdout. JSON goes through an asynchronous destination, so a log line does not cost a
 * request its latency. Pretty output is formatted in this process (not in a transport's worker thread): it is for a
 * developer's terminal, where a few microseconds a line do not matter and a worker would be one more thread.
 */
export function createServerLog(options: { level: string; format: LogFormat }): ServerLog {
  const settings = { level: options.level, redact: { paths: redactedLogPaths, censor: '[redacted]' } };
  if (options.format === 'pretty') {
    const stream: DestinationStream = pinoPretty({
      destination: 1,
      colorize: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      singleLine: true,
      // Only pino's `err` is an exception; `error` is the OAuth error code of a refused request, kept on its line.
      errorLikeObjectKeys: ['err'],
      sync: true,
    });
    return { log: pino(settings, stream), flush: () => undefined };
  }
  const destination = pino.destination({ dest: 1, sync: false });
  return { log: pino(settings, destination), flush: () => destination.flushSync() };
}
