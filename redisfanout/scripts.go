package redisfanout

import "github.com/redis/go-redis/v9"

// The presence table is changed by Lua scripts, so that each change is
// atomic: an entry is never written without its instance marked alive, and
// an entry of a dead instance is deleted only while the instance is still
// dead, never just after it came back and wrote it again. The layout is in
// the package documentation.

// extendLua is a Lua function that sets a key's TTL to ttl milliseconds
// unless it has a longer one already: an instance with a shorter
// PresenceTTL must not expire a room hash that others keep alive for
// longer. A key without a TTL (a hash just created) gets one.
const extendLua = `
local function extend(key, ttl)
	local t = redis.call('PTTL', key)
	if t == -1 or (t >= 0 and t < ttl) then
		redis.call('PEXPIRE', key, ttl)
	end
end
`

// setScript records an instance's connections of a user in a room, or
// deletes the entry for 0, and marks the instance alive. It also keeps,
// per room, how many entries the instance has there (for refresh and
// Close, which must find its rooms without scanning them).
//
// The alive key holds the instance's generation, a timestamp of Redis's
// made when the key is created, and each entry's value is
// "GENERATION:CONNECTIONS". An entry of an earlier generation was written
// before the instance's keys expired (or Redis lost them): it counts for
// nothing, and the count per room starts again without it. Without the
// generation such an entry would come back to life, uncounted, when the
// instance wrote anything again.
//
// KEYS: room hash, instance's rooms hash, instance's alive key.
// ARGV: field (instance|user), connections, TTL in ms, room.
var setScript = redis.NewScript(extendLua + `
local n = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local gen = redis.call('GET', KEYS[3])
if not gen then
	local t = redis.call('TIME')
	gen = t[1] .. '.' .. t[2]
	redis.call('DEL', KEYS[2])
end
redis.call('SET', KEYS[3], gen, 'PX', ttl)
local old = redis.call('HGET', KEYS[1], ARGV[1])
local current = old and string.sub(old, 1, #gen + 1) == gen .. ':'
if n > 0 then
	redis.call('HSET', KEYS[1], ARGV[1], gen .. ':' .. n)
	if not current then
		redis.call('HINCRBY', KEYS[2], ARGV[4], 1)
	end
elseif old then
	redis.call('HDEL', KEYS[1], ARGV[1])
	if current and redis.call('HINCRBY', KEYS[2], ARGV[4], -1) <= 0 then
		redis.call('HDEL', KEYS[2], ARGV[4])
	end
end
extend(KEYS[1], ttl)
if redis.call('EXISTS', KEYS[2]) == 1 then
	extend(KEYS[2], ttl)
end
return 0
`)

// presenceScript returns the user and connection count of every entry of
// a room of the other live instances, as a flat list, and deletes the
// entries of instances no longer alive and of their earlier generations
// (see setScript).
//
// KEYS: room hash. ARGV: prefix of the alive keys, the caller's instance.
//
// It reads alive keys it cannot name in KEYS (which instances have entries
// is what it finds out); they share the room hash's hash tag, so they are
// on its node in a Redis Cluster as well.
var presenceScript = redis.NewScript(`
local all = redis.call('HGETALL', KEYS[1])
local gens = {}
local out = {}
for i = 1, #all, 2 do
	local field, value = all[i], all[i + 1]
	local sep = string.find(field, '|', 1, true)
	if sep then
		local id = string.sub(field, 1, sep - 1)
		if gens[id] == nil then
			gens[id] = redis.call('GET', ARGV[1] .. id)
		end
		local gen = gens[id]
		if not gen or string.sub(value, 1, #gen + 1) ~= gen .. ':' then
			redis.call('HDEL', KEYS[1], field)
		elseif id ~= ARGV[2] then
			out[#out + 1] = string.sub(field, sep + 1)
			out[#out + 1] = string.sub(value, #gen + 2)
		end
	end
end
return out
`)

// refreshScript extends the TTL of a live instance's keys and of the room
// hashes it has entries in, and returns 1; it returns 0 and does nothing
// if the instance's alive key is gone: it has no entries anyone counts,
// or none at all.
//
// KEYS: the instance's alive key, its rooms hash.
// ARGV: TTL in ms, prefix of the room hashes.
var refreshScript = redis.NewScript(extendLua + `
if redis.call('EXISTS', KEYS[1]) == 0 then
	return 0
end
local ttl = tonumber(ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
for _, room in ipairs(redis.call('HKEYS', KEYS[2])) do
	extend(ARGV[2] .. room, ttl)
end
return 1
`)

// closeScript deletes an instance's entries in every room it has some in,
// and its own keys.
//
// KEYS: the instance's alive key, its rooms hash.
// ARGV: prefix of the room hashes, the instance's field prefix (instance|).
var closeScript = redis.NewScript(`
for _, room in ipairs(redis.call('HKEYS', KEYS[2])) do
	local key = ARGV[1] .. room
	for _, field in ipairs(redis.call('HKEYS', key)) do
		if string.sub(field, 1, #ARGV[2]) == ARGV[2] then
			redis.call('HDEL', key, field)
		end
	end
end
redis.call('DEL', KEYS[1], KEYS[2])
return 0
`)
