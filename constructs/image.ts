import { IConstruct } from 'constructs';
import { ValidationError } from './errors';

const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-fA-F0-9]{32,}$/;
const HINT =
  'Pin the image to a version tag (e.g. ghcr.io/acme/fn:1.4.2) or a digest (…@sha256:…) so every node runs the same bytes';

/** Image references must be pinned: a tag other than `latest`, or a digest. */
export function validateImage(scope: IConstruct, what: string, image: unknown): string {
  if (typeof image !== 'string' || image.length === 0 || /\s/.test(image)) {
    throw new ValidationError(scope, `${what} '${String(image)}' is not an image reference`, HINT);
  }
  const at = image.indexOf('@');
  if (at >= 0) {
    if (!DIGEST.test(image.slice(at + 1)))
      throw new ValidationError(scope, `${what} '${image}' has a malformed digest`, HINT);
    return image;
  }
  const lastSegment = image.slice(image.lastIndexOf('/') + 1);
  const colon = lastSegment.lastIndexOf(':');
  if (colon < 0) throw new ValidationError(scope, `${what} '${image}' has no tag (it would float to :latest)`, HINT);
  const tag = lastSegment.slice(colon + 1);
  if (tag === 'latest') throw new ValidationError(scope, `${what} '${image}' uses the floating tag :latest`, HINT);
  if (!TAG.test(tag) || colon === 0) throw new ValidationError(scope, `${what} '${image}' has a malformed tag`, HINT);
  return image;
}
