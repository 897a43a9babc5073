import { chooseLogFormat } from '../../../src/cli/server-log.ts';

describe('the server log format', () => {
  it('is pretty on a development terminal when left to auto', () => {
    expect(chooseLogFormat({ setting: 'auto', production: false, stdoutIsTty: true })).toBe('pretty');
  });

  it('is JSON when stdout is not a terminal (a pipe, a file, a container log driver)', () => {
    expect(chooseLogFormat({ setting: 'auto', production: false, stdoutIsTty: false })).toBe('json');
  });

  it('is JSON in production even on a terminal', () => {
    expect(chooseLogFormat({ setting: 'auto', production: true, stdoutIsTty: true })).toBe('json');
  });

  it('follows an explicit setting whatever the environment', () => {
    expect(chooseLogFormat({ setting: 'json', production: false, stdoutIsTty: true })).toBe('json');
    expect(chooseLogFormat({ setting: 'pretty', production: true, stdoutIsTty: false })).toBe('pretty');
  });
});
