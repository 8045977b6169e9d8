<?php
/**
 * The graph.instagram.com stand-in that Bricks' Instagram element reads.
 *
 * @package igfeed
 */

/**
 * Igfeed_Graph through wp_remote_get, as Bricks calls it.
 */
final class GraphTest extends Igfeed_TestCase {
	const P = Igfeed_Graph::PLACEHOLDER;

	/**
	 * GET through WordPress' HTTP API; returns [status, decoded body].
	 *
	 * @param string $url URL.
	 * @return array{0: int, 1: mixed}
	 */
	private function get( string $url ): array {
		$response = wp_remote_get( $url );
		$this->assertIsArray( $response, $url );
		return array( (int) wp_remote_retrieve_response_code( $response ), json_decode( wp_remote_retrieve_body( $response ), true ) );
	}

	public function test_me_media_as_bricks_asks_for_it(): void {
		list( $status, $body ) = $this->get( 'https://graph.instagram.com/me/media?fields=id,caption,media_type,media_url,thumbnail_url,permalink,timestamp&access_token=' . self::P . '&limit=4' );
		$this->assertSame( 200, $status );
		$this->assertCount( 4, $body['data'] );
		$this->assertSame( self::feed_url(), $this->requests[0]['url'] );

		list( $album, $video, $flagged, $image ) = $body['data'];
		$this->assertSame(
			array(
				'id'         => '17900000000000001',
				'caption'    => 'Full contract album',
				'media_type' => 'CAROUSEL_ALBUM',
				'media_url'  => 'https://feeds.example.com/media/17900000000000002',
				'permalink'  => 'https://www.instagram.com/p/AAAA/',
				'timestamp'  => '2026-11-01T10:00:00+0000',
			),
			$album
		);
		$this->assertSame( 'https://feeds.example.com/media/17900000000000010', $video['media_url'] );
		$this->assertSame( 'https://feeds.example.com/media/17900000000000010/thumbnail', $video['thumbnail_url'] );
		$this->assertArrayNotHasKey( 'media_url', $flagged, 'null fields are left out, as Graph does' );
		$this->assertArrayNotHasKey( 'thumbnail_url', $flagged );
		$this->assertArrayNotHasKey( 'caption', $image );
		$this->assertSame( 'https://feeds.example.com/media/17900000000000030', $image['media_url'] );
		$this->assertArrayNotHasKey( 'thumbnail_url', $image );
	}

	public function test_fields_are_honoured_with_nested_children(): void {
		list( , $body ) = $this->get( 'https://graph.instagram.com/v25.0/me/media?fields=media_type,children%7Bmedia_url,media_type%7D,username&access_token=' . self::P );
		$this->assertCount( 6, $body['data'] );
		$this->assertSame( array( 'media_type', 'children', 'username', 'id' ), array_keys( $body['data'][0] ) );
		$this->assertSame( 'example', $body['data'][0]['username'] );
		$this->assertSame(
			array(
				array( 'media_url' => 'https://feeds.example.com/media/17900000000000002', 'media_type' => 'IMAGE', 'id' => '17900000000000002' ),
				array( 'media_url' => 'https://feeds.example.com/media/17900000000000003', 'media_type' => 'VIDEO', 'id' => '17900000000000003' ),
			),
			$body['data'][0]['children']['data']
		);
		$this->assertArrayNotHasKey( 'children', $body['data'][1] );
		list( , $ids ) = $this->get( 'https://graph.instagram.com/me/media?access_token=' . self::P );
		$this->assertSame( array( 'id' => '17900000000000001' ), $ids['data'][0] );
	}

	public function test_paging_with_cursors(): void {
		list( , $first ) = $this->get( 'https://graph.instagram.com/me/media?fields=id&limit=4&access_token=' . self::P );
		$this->assertArrayHasKey( 'next', $first['paging'] );
		$this->assertStringStartsWith( 'https://graph.instagram.com/me/media?', $first['paging']['next'] );
		list( , $second ) = $this->get( $first['paging']['next'] );
		$this->assertSame( array( '17900000000000040', '17900000000000050' ), array_column( $second['data'], 'id' ) );
		$this->assertArrayNotHasKey( 'next', $second['paging'] );
	}

	public function test_me(): void {
		list( $status, $body ) = $this->get( 'https://graph.instagram.com/me?fields=username&access_token=' . self::P );
		$this->assertSame( 200, $status );
		$this->assertSame( array( 'username' => 'example', 'id' => '17841400000000000' ), $body );
		list( , $body ) = $this->get( 'https://graph.instagram.com/v25.0/me?fields=id,username,media_count,account_type&access_token=' . self::P );
		$this->assertSame( 6, $body['media_count'] );
	}

	public function test_children(): void {
		list( $status, $body ) = $this->get( 'https://graph.instagram.com/17900000000000040/children?fields=id,media_type,media_url,thumbnail_url&access_token=' . self::P );
		$this->assertSame( 200, $status );
		$this->assertSame(
			array(
				array(
					'id'            => '17900000000000041',
					'media_type'    => 'VIDEO',
					'media_url'     => 'https://feeds.example.com/media/17900000000000041',
					'thumbnail_url' => 'https://feeds.example.com/media/17900000000000041/thumbnail',
				),
			),
			$body['data']
		);
		list( , $none ) = $this->get( 'https://graph.instagram.com/17900000000000030/children?fields=id&access_token=' . self::P );
		$this->assertSame( array( 'data' => array() ), $none );
		list( $status, $missing ) = $this->get( 'https://graph.instagram.com/123/children?fields=id&access_token=' . self::P );
		$this->assertSame( 400, $status );
		$this->assertSame( 100, $missing['error']['code'] );
	}

	public function test_refresh_keeps_the_placeholder_and_never_reaches_igfeed(): void {
		list( $status, $body ) = $this->get( 'https://graph.instagram.com/refresh_access_token?grant_type=ig_refresh_token&access_token=' . self::P );
		$this->assertSame( 200, $status );
		$this->assertSame( self::P, $body['access_token'] );
		$this->assertSame( 'bearer', $body['token_type'] );
		$this->assertGreaterThan( 86400 * 30, $body['expires_in'] );
		$this->assertCount( 0, $this->requests );
	}

	public function test_other_tokens_and_hosts_are_not_touched(): void {
		foreach ( array(
			'https://graph.instagram.com/me/media?fields=id&access_token=IGQVJreal',
			'https://graph.instagram.com/refresh_access_token?grant_type=ig_refresh_token&access_token=IGQVJreal',
			'https://graph.instagram.com/me/media?fields=id&access_token=' . self::P . 'x',
			'https://graph.facebook.com/me/media?fields=id&access_token=' . self::P,
			'https://example.com/?access_token=' . self::P,
		) as $url ) {
			$this->assertFalse( Igfeed_Graph::intercept( false, array(), $url ), $url );
		}
		// Another filter's answer wins.
		$this->assertSame( array( 'x' ), Igfeed_Graph::intercept( array( 'x' ), array(), 'https://graph.instagram.com/me?access_token=' . self::P ) );
	}

	public function test_bearer_header_and_named_accounts(): void {
		$response = Igfeed_Graph::intercept( false, array( 'headers' => array( 'Authorization' => 'Bearer ' . self::P . '.shop' ) ), 'https://graph.instagram.com/me?fields=username' );
		$this->assertSame( 200, $response['response']['code'] );
		$this->assertSame( self::feed_url( 'shop' ), $this->requests[0]['url'] );
		$this->assertNull( Igfeed_Graph::account_for_token( self::P . '.Bad_Name' ) );
		update_option( Igfeed_Settings::OPTION, array( 'bricks_account' => 'brand' ) );
		$this->assertSame( 'brand', Igfeed_Graph::account_for_token( self::P ) );
	}

	public function test_igfeed_down_without_copy_is_a_graph_error(): void {
		$this->responder       = fn() => new WP_Error( 'http_request_failed', 'refused' );
		list( $status, $body ) = $this->get( 'https://graph.instagram.com/me/media?fields=id&access_token=' . self::P );
		$this->assertSame( 503, $status );
		$this->assertSame( 2, $body['error']['code'] );
		$this->responder       = fn() => array( 404, '{}' );
		list( $status, $body ) = $this->get( 'https://graph.instagram.com/me/media?fields=id&access_token=' . self::P . '.nobody' );
		$this->assertSame( 400, $status );
	}

	/**
	 * Bricks' Instagram element, step by step as its render() does it: posts,
	 * then the username, then children of albums without media_url.
	 */
	public function test_the_bricks_element_sequence_renders_igfeed_urls(): void {
		$token      = self::P;
		$n          = 9;
		$media      = wp_remote_get( "https://graph.instagram.com/me/media?fields=id,caption,media_type,media_url,thumbnail_url,permalink,timestamp&access_token=$token&limit=$n" );
		$this->assertSame( 200, wp_remote_retrieve_response_code( $media ) );
		$media_body = json_decode( wp_remote_retrieve_body( $media ), true );
		$account    = wp_remote_get( "https://graph.instagram.com/me?fields=username&access_token=$token" );
		$this->assertSame( 'example', json_decode( wp_remote_retrieve_body( $account ), true )['username'] );
		$srcs = array();
		foreach ( $media_body['data'] as $post ) {
			if ( 'VIDEO' === $post['media_type'] ) {
				if ( isset( $post['thumbnail_url'] ) ) {
					$srcs[] = $post['thumbnail_url'];
				}
			} elseif ( 'CAROUSEL_ALBUM' === $post['media_type'] && ! isset( $post['media_url'] ) ) {
				$children = json_decode( wp_remote_retrieve_body( wp_remote_get( 'https://graph.instagram.com/' . $post['id'] . "/children?fields=id,media_type,media_url,thumbnail_url&access_token=$token" ) ), true );
				$srcs[]   = $children['data'][0]['thumbnail_url'] ?? $children['data'][0]['media_url'];
			} else {
				$srcs[] = $post['media_url'];
			}
		}
		$this->assertCount( 5, $srcs );
		foreach ( $srcs as $src ) {
			$this->assertStringStartsWith( 'https://feeds.example.com/media/', $src );
		}
		// Four Graph calls, one request to igfeed.
		$this->assertCount( 1, $this->requests );
	}
}
