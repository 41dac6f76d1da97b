"""Process plumbing every layer uses: the errors users see, atomic writes, where shipped files live, the allocator."""
