/**
 * Editor side of the igfeed/feed block: settings in the sidebar and a
 * server-side preview. Plain script on WordPress' globals, no build step.
 * Visitors get no JavaScript: the block is rendered in PHP.
 */
( function ( wp ) {
	'use strict';
	var el = wp.element.createElement;
	var __ = wp.i18n.__;
	var InspectorControls = wp.blockEditor.InspectorControls;
	var useBlockProps = wp.blockEditor.useBlockProps;
	var c = wp.components;
	var ServerSideRender = wp.serverSideRender;

	var typeOptions = [
		{ label: __( 'All posts', 'igfeed' ), value: '' },
		{ label: __( 'Images', 'igfeed' ), value: 'IMAGE' },
		{ label: __( 'Videos', 'igfeed' ), value: 'VIDEO' },
		{ label: __( 'Albums', 'igfeed' ), value: 'CAROUSEL_ALBUM' },
		{ label: __( 'Images and albums', 'igfeed' ), value: 'IMAGE,CAROUSEL_ALBUM' },
	];

	wp.blocks.registerBlockType( 'igfeed/feed', {
		edit: function ( props ) {
			var a = props.attributes;
			var set = function ( key ) {
				return function ( value ) {
					var next = {};
					next[ key ] = value;
					props.setAttributes( next );
				};
			};
			return el(
				'div',
				useBlockProps(),
				el(
					InspectorControls,
					null,
					el(
						c.PanelBody,
						{ title: __( 'Feed', 'igfeed' ) },
						el( c.TextControl, {
							label: __( 'Account', 'igfeed' ),
							help: __( 'The igfeed account name.', 'igfeed' ),
							value: a.account,
							onChange: set( 'account' ),
						} ),
						el( c.RangeControl, { label: __( 'Posts', 'igfeed' ), min: 1, max: 50, value: a.limit, onChange: set( 'limit' ) } ),
						el( c.RangeControl, { label: __( 'Columns', 'igfeed' ), min: 1, max: 6, value: a.columns, onChange: set( 'columns' ) } ),
						el( c.SelectControl, { label: __( 'Show', 'igfeed' ), value: a.type, options: typeOptions, onChange: set( 'type' ) } ),
						el( c.ToggleControl, { label: __( 'Captions', 'igfeed' ), checked: !! a.captions, onChange: set( 'captions' ) } )
					)
				),
				el( ServerSideRender, { block: 'igfeed/feed', attributes: a } )
			);
		},
		save: function () {
			return null;
		},
	} );
} )( window.wp );
