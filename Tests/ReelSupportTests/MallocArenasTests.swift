import ReelSupport
import Testing

@Suite("Malloc arenas")
struct MallocArenasTests {
    @Test func glibcTakesTheArenaLimitReelSetsAtStart() {
        // What `reel`'s main does, with the count it would pick on a machine of this many cores and with an explicit
        // one: glibc answers 1 when it accepts the setting.
        #expect(MallocArenas.limit())
        #expect(MallocArenas.limit(to: 4))
    }
}
