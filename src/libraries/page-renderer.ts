import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';

const viewsDir = fileURLToPath(new URL('../../views/', import.meta.url));

/** Renders the server-side pages in `views/`. Output is HTML-escaped unless a template opts out with `<%~`. */
export interface PageRenderer {
  render(view: string, data: Record<string, unknown>): string;
}

export function createPageRenderer(): PageRenderer {
  const eta = new Eta({ views: viewsDir, cache: true, autoEscape: true, autoTrim: false });
  return {
    render(view, data) {
      return eta.render(`./${view}`, data);
    },
  };
}
