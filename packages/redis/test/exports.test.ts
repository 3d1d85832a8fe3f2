import { describe, expect, it } from 'vitest';
import * as redis from '@tiergate/redis';

describe('@tiergate/redis public API', () => {
  it('exports exactly redisStore (types aside)', () => {
    expect(Object.keys(redis).sort()).toEqual(['redisStore']);
  });
});
